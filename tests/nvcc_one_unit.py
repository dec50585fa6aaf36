"""Compile a generated brian2cuda project as one translation unit (run in the project's folder).

brian2cuda's makefile compiles each generated ``.cu`` file on its own, and nvcc spends about 15 s of CPU
on each parsing the Thrust and cuRAND headers that every file includes through ``objects.h``: about 5
minutes for the smallest network. This script compiles the same sources with the makefile's own
variables (``NVCC``, ``NVCCFLAGS``, ``LFLAGS``) as one file that includes them all, in about 25 s, and
links the same program (``main``). test_cuda uses it as the make command of the compile test; a project
that runs on a GPU is built with brian2cuda's makefile.

Each code object keeps its helpers in an anonymous namespace, and these repeat from file to file; here
each code object is put in a namespace of its own, and the functions its header declares (``_run_...``)
forward to it.

Usage (what test_cuda sets as ``prefs.devices.cpp_standalone.make_cmd_unix``)::

    cd PROJECT && python tests/nvcc_one_unit.py
"""
import re
import subprocess
import sys

MAKEFILE = '''include makefile
one_unit: one_unit.cu
\t$(NVCC) $(NVCCFLAGS) -dc one_unit.cu -o one_unit.o
\t$(NVCC) $(LFLAGS) one_unit.o -o $(PROGRAM)
'''


def one_unit(makefile_text, read):
    """The text of a ``.cu`` file that includes every source of the makefile (``read(path)`` reads one)."""
    sources = re.search(r'^SRCS = (.*)$', makefile_text, re.M).group(1).split()
    lines = []
    for k, source in enumerate(sources):
        if not source.startswith('code_objects/'):
            lines.append(f'#include "{source}"')
            continue
        code = read(source).split('\n')
        n = 0   # the includes at the top stay global
        while n < len(code) and (code[n].startswith('#include') or not code[n].strip()):
            n += 1
        functions = re.findall(r'^void (\w+)\(\);', read(source[:-len('.cu')] + '.h'), re.M)
        lines += [*code[:n], f'namespace _unit_{k} {{', f'#line {n + 1} "{source}"', *code[n:], '}']
        lines += [f'void {name}() {{ _unit_{k}::{name}(); }}' for name in functions]
    return '\n'.join(lines) + '\n'


def main():
    with open('makefile') as file:
        makefile_text = file.read()

    def read(path):
        with open(path) as file:
            return file.read()

    with open('one_unit.cu', 'w') as file:
        file.write(one_unit(makefile_text, read))
    with open('one_unit.mk', 'w') as file:
        file.write(MAKEFILE)
    return subprocess.run(['make', '-f', 'one_unit.mk', 'one_unit']).returncode


if __name__ == '__main__':
    sys.exit(main())
