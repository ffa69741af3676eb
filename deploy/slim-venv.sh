#!/bin/sh
# Used by the Dockerfile: removes from a virtualenv what no modelmon service runs, keeping the
# image small. Test suites, C/Cython headers and sources, type stubs and byte code compiled by pip
# go (the Dockerfile writes what is imported, at the end); so does setuptools, which nothing imports
# at run time, and pyarrow's Arrow Flight and S3 parts (50 MB), which modelmon never loads and
# pyarrow imports only when asked for (a local parquet file needs neither), with the two extra
# copies of libarrow_python the wheel holds where symbolic links were meant. Shared libraries lose
# their symbol tables (binutils' strip) where the loader still takes the stripped file: the ones
# patchelf rewrote (auditwheel's grafted NAME.libs, numba's tbbpool) come out of strip as files it
# refuses ("ELF load command address/offset not page-aligned"), so each stripped library is loaded
# once and one that does not load is put back whole (the grafted ones are not even tried);
# compile-imports.py then imports and uses them. A library two
# wheels graft under one name (numpy's and scipy's libgfortran and libquadmath) is kept once, the
# other a symbolic link to it. Cython's include files (.pxi) go with the other sources.
#   sh slim-venv.sh /opt/modelmon
set -eu
site="$1/lib/python3.11/site-packages"
find "$site" -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} +
rm -rf "$site/pyarrow/include" "$site/pyarrow/src" "$site/numpy/_core/include"
rm -f "$site"/pyarrow/libarrow_flight.so* "$site"/pyarrow/libarrow_python_flight.so* \
    "$site"/pyarrow/_flight.*.so "$site"/pyarrow/libarrow_s3.so* "$site"/pyarrow/_s3fs.*.so \
    "$site"/pyarrow/libarrow_python*.so "$site"/pyarrow/libarrow_python*.so.*.*.*
libraries=$(mktemp)
find "$site" -type f \( -name '*.so' -o -name '*.so.*' \) -not -path '*.libs/*' > "$libraries"
while read -r library; do cp -p "$library" "$library.whole"; done < "$libraries"
xargs strip --strip-unneeded < "$libraries"
"$1/bin/python" - "$libraries" <<'PYTHON'
import ctypes
import os
import sys

kept_whole = 0
for path in open(sys.argv[1]).read().splitlines():
    try:
        ctypes.CDLL(path)
    except OSError:
        os.replace(f"{path}.whole", path)
        kept_whole += 1
print(f"slim-venv.sh: {kept_whole} shared libraries kept whole (the loader refused them stripped)")
PYTHON
find "$site" -type f -name '*.whole' -delete
rm -f "$libraries"
for lib in "$site"/*.libs/*; do
  for twin in "$site"/*.libs/"${lib##*/}"; do
    if [ "$twin" != "$lib" ] && [ ! -L "$twin" ] && [ ! -L "$lib" ] && cmp -s "$lib" "$twin"; then
      folder=${twin%/*}
      ln -sf "../${folder##*/}/${lib##*/}" "$lib"
    fi
  done
done
find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.pyi' -o -name '*.h' \
    -o -name '*.hpp' -o -name '*.cpp' -o -name '*.c' \) -delete
if [ -d "$site/setuptools" ]; then "$1/bin/pip" uninstall --quiet -y setuptools; fi
