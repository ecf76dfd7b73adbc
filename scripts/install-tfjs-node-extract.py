"""Extracts what tfjs-node's addon needs from a TensorFlow wheel (a zip file).

Usage: python3 install-tfjs-node-extract.py WHEEL OUT_DIR HEADER [HEADER ...]

Writes OUT_DIR/lib/libtensorflow_cc.so.2 and OUT_DIR/lib/libtensorflow_framework.so.2, and under
OUT_DIR/include every header the given ones include, transitively (quoted includes found in the
wheel's tensorflow/include tree; the rest are system or compiler headers). Streams each member,
so memory stays small although the main library is several hundred megabytes. Prints one JSON
line with the files written; exits 2 with a message on stderr when something is missing.

Python's zipfile is used because pip, which fetched the wheel, guarantees a Python is present.
"""
import json
import os
import re
import shutil
import sys
import zipfile

LIBS = ["tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2"]
INCLUDE_ROOT = "tensorflow/include/"
QUOTED_INCLUDE = re.compile(rb'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(2)


def extract(zf, member, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with zf.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 4 << 20)


def main(argv):
    if len(argv) < 4:
        fail("usage: install-tfjs-node-extract.py WHEEL OUT_DIR HEADER [HEADER ...]")
    wheel, out_dir, wanted = argv[1], argv[2], argv[3:]
    try:
        zf = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as e:
        fail(f"{wheel} is not a readable wheel (zip file): {e}")
    names = set(zf.namelist())
    missing = [lib for lib in LIBS if lib not in names]
    if missing:
        fail(f"{wheel} does not contain {', '.join(missing)}: a tensorflow-cpu (or tensorflow) 2.x "
             "Linux wheel is expected")

    written = []
    for lib in LIBS:
        dest = os.path.join(out_dir, "lib", os.path.basename(lib))
        extract(zf, lib, dest)
        written.append(dest)

    # Breadth-first over quoted includes, starting from the addon's own.
    queue, seen, headers = list(wanted), set(), []
    while queue:
        header = queue.pop(0)
        if header in seen:
            continue
        seen.add(header)
        member = INCLUDE_ROOT + header
        if member not in names:
            if header in wanted:
                fail(f"{wheel} has no {member}, which tfjs-node's addon includes")
            continue
        data = zf.read(member)
        dest = os.path.join(out_dir, "include", header)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as out:
            out.write(data)
        headers.append(header)
        queue.extend(m.decode() for m in QUOTED_INCLUDE.findall(data))
    print(json.dumps({"libs": written, "headers": sorted(headers)}))


if __name__ == "__main__":
    main(sys.argv)
