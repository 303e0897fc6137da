"""Writes a copy of a sample CSV with one record corrected: the last character
of the citation_id (third field) of the 1000th record of OSHA, changed in
place, so the file keeps its size and every other byte.

Usage: python3 correct_one_record.py IN.csv OUT.csv
"""

import shutil
import sys

src, dst = sys.argv[1], sys.argv[2]
shutil.copyfile(src, dst + ".tmp")
with open(dst + ".tmp", "r+b") as f:
    seen, offset = 0, 0
    for line in f:
        if line.startswith(b"OSHA,"):
            seen += 1
            if seen == 1000:
                fields = line.split(b",", 3)
                pos = offset + len(fields[0]) + len(fields[1]) + len(fields[2]) + 1
                f.seek(pos)
                old = f.read(1)
                f.seek(pos)
                f.write(b"X" if old != b"X" else b"Y")
                break
        offset += len(line)
    else:
        sys.exit("no record to correct")
shutil.move(dst + ".tmp", dst)
