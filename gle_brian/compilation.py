"""How C++ standalone projects are compiled: one precompiled header for every code object, and each object's
dependencies written while it compiles.

Brian2's makefile compiles every code object from scratch, parsing the same standard headers (``<random>``,
``<iostream>``, ...) each time, about two thirds of a code object's compile time without optimisation, and first
lists the project's dependencies in one serial pass over all sources. Importing gle_brian changes the C++
standalone makefile (Brian2's template, so for a user's own ``set_device('cpp_standalone')`` script too):

* the standard headers are precompiled once per compiler, CPU and set of flags, into
  ``$XDG_CACHE_HOME/gle_brian/precompiled_headers`` (``~/.cache/...``; about 45 MB per set of flags), and
  included first in every code object. gcc uses the precompiled file only when it was made with the same
  flags and reads the text headers otherwise, so a result never depends on it; the header holds standard
  headers only, which every code object includes anyway.
* each object's dependencies are written by the compiler as it compiles (``-MMD -MP``), so that a changed
  header still rebuilds what includes it, without the serial pass.

``prefs.gle_brian.precompiled_header = False`` compiles as Brian2 does (also when the cache folder cannot be
written, or its path has characters that make cannot handle). Measured in bench/RESULTS.md ("Compile time"):
a tutorial's project of 87 code objects, 57 s -> 19 s of compiler time; whole builds 0.28-0.41x the time at
``-O0``, 0.55-0.60x at ``-O3``.

Example::

    >>> from brian2 import prefs
    >>> prefs.gle_brian.precompiled_header
    True
"""
import hashlib
import os
import re
import shutil

from brian2 import prefs
from brian2.codegen.templates import CodeObjectTemplate
from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject

from . import preferences  # noqa: F401  (registers prefs.gle_brian)
from .errors import GLEOutputError
from .results import atomic_path

__all__ = ['PRECOMPILED', 'precompiled_header', 'cache_folder']

#: the standard headers that Brian2's C++ standalone code objects and their support code include
PRECOMPILED = ('algorithm', 'chrono', 'climits', 'cmath', 'cstdint', 'cstdio', 'cstdlib', 'ctime', 'fstream',
               'iostream', 'map', 'random', 'set', 'string', 'utility', 'vector')
HEADER_TEXT = ''.join(f'#include <{name}>\n' for name in PRECOMPILED)

# Brian2's makefile template (brian2/devices/cpp_standalone/templates/makefile) with the precompiled header and the
# dependencies written while compiling (-MMD -MP) in place of the make.deps pass
MAKEFILE = """\
PROGRAM = main

SRCS = {{source_files}}
H_SRCS = {{header_files}}
OBJS = ${SRCS:.cpp=.o}
OBJS := ${OBJS:.c=.o}
OPTIMISATIONS = {{ compiler_flags }}
{% set _cxxflags = '-c -Wno-write-strings $(OPTIMISATIONS) -I. ' ~ openmp_pragma('compilation') ~ ' '
                  ~ compiler_debug_flags %}
CXXFLAGS = {{ _cxxflags }}
LFLAGS = {{ openmp_pragma('compilation') }} {{ linker_flags }} {{ linker_debug_flags }}
DEPS = $(OBJS:.o=.d)
{% set _header = gle_precompiled_header(_cxxflags.replace('$(OPTIMISATIONS)', compiler_flags)) %}

all: $(PROGRAM)

.PHONY: all clean

$(PROGRAM): $(OBJS) makefile
\t$(CXX) $(OBJS) -o $(PROGRAM) $(LFLAGS)

clean:
\t{{ rm_cmd }}

-include $(DEPS)
{% if _header %}

PCH = {{ _header }}

$(PCH).gch: $(PCH)
\t$(CXX) $(CXXFLAGS) -x c++-header $(PCH) -o $@.$$$$ && mv -f $@.$$$$ $@

%.o : %.cpp makefile | $(PCH).gch
\t$(CXX) $(CXXFLAGS) -MMD -MP -include $(PCH) $< -o $@
{% else %}

%.o : %.cpp makefile
\t$(CXX) $(CXXFLAGS) -MMD -MP $< -o $@
{% endif %}
"""

_MAKE_SAFE = re.compile(r'[\w./+-]+')    # a path make takes as a target as it is


def cache_folder():
    """The folder of the precompiled headers: ``$XDG_CACHE_HOME/gle_brian/precompiled_headers`` (default
    ``~/.cache/gle_brian/precompiled_headers``)."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'gle_brian', 'precompiled_headers')


def _compiler_identity():
    """The C++ compiler make will call (``$CXX``, else ``g++``) with its size and time (an update changes them),
    and this machine's CPU (``-march=native`` depends on it)."""
    compiler = shutil.which(os.environ.get('CXX') or 'g++') or ''
    stat = os.stat(compiler) if compiler else None
    cpu = ''
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            cpu = next((line for line in f if line.startswith(('model name', 'flags'))), '')
    return f'{compiler} {stat.st_size if stat else ""} {stat.st_mtime_ns if stat else ""} {cpu}'


def precompiled_header(flags):
    """The path of the header to precompile and include for a project compiled with ``flags`` (a str), written
    there if it is not yet; ``''`` when precompiled headers are off or the cache folder cannot be used."""
    if not prefs.gle_brian.precompiled_header:
        return ''
    key = hashlib.sha256(f'{HEADER_TEXT}\n{flags}\n{_compiler_identity()}'.encode()).hexdigest()[:16]
    folder = os.path.join(cache_folder(), key)
    path = os.path.join(folder, 'gle_pch.h')
    if not _MAKE_SAFE.fullmatch(path):
        return ''
    if not os.path.exists(path):
        try:
            os.makedirs(folder, exist_ok=True)
            with atomic_path(path) as temporary:
                with open(temporary, 'w') as f:
                    f.write(HEADER_TEXT)
        except (OSError, GLEOutputError):       # no cache (read-only home, full disk): compile as Brian2 does
            return ''
    return path


_templater = CPPStandaloneCodeObject.templater
_templater.env.globals['gle_precompiled_header'] = precompiled_header
_templater.templates._templates['makefile'] = CodeObjectTemplate(_templater.env.from_string(MAKEFILE), MAKEFILE)
