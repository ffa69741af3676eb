#!/bin/sh
# Used by the Dockerfile: removes from a virtualenv what no modelmon service runs, keeping the
# image small. Test suites, C/Cython headers and sources, type stubs and byte code compiled by pip
# go (the Dockerfile writes what is imported, at the end); so does setuptools, which nothing imports
# at run time, and pyarrow's Arrow Flight and S3 parts (50 MB), which modelmon never loads and
# pyarrow imports only when asked for (a local parquet file needs neither), with the two extra
# copies of libarrow_python the wheel holds where symbolic links were meant. pyarrow's and uvloop's
# libraries lose their symbol tables (45 MB; needs binutils' strip). Other shared libraries are left
# as they are: stripping the ones auditwheel patched breaks them ("ELF load command address/offset
# not page-aligned"); the build imports and uses the stripped ones (compile-imports.py).
#   sh slim-venv.sh /opt/modelmon
set -eu
site="$1/lib/python3.11/site-packages"
find "$site" -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} +
rm -rf "$site/pyarrow/include" "$site/pyarrow/src" "$site/numpy/_core/include"
rm -f "$site"/pyarrow/libarrow_flight.so* "$site"/pyarrow/libarrow_python_flight.so* \
    "$site"/pyarrow/_flight.*.so "$site"/pyarrow/libarrow_s3.so* "$site"/pyarrow/_s3fs.*.so \
    "$site"/pyarrow/libarrow_python*.so "$site"/pyarrow/libarrow_python*.so.*.*.*
find "$site/pyarrow" "$site/uvloop" -type f -name '*.so*' -exec strip --strip-unneeded {} +
find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -name '*.h' -o -name '*.hpp' \
    -o -name '*.cpp' -o -name '*.c' \) -delete
if [ -d "$site/setuptools" ]; then "$1/bin/pip" uninstall --quiet -y setuptools; fi
