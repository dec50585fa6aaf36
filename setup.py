from setuptools import find_packages, setup

CUDA = ['brian2cuda==1.0b1', 'nvidia-curand']   # cuda_standalone; nvidia-curand where the toolkit lacks cuRAND
NWB = ['pynwb>=3', 'nwbinspector>=0.6', 'neo>=0.13']   # NWB and Neo recordings in and out, checked by the inspector
SWEEP = ['dask[distributed]>=2024.1', 'pandas>=2']   # sweeps over seeds and parameters (gle_brian.sweep)
DOCS = ['sphinx>=7', 'numpydoc>=1.6']            # the API reference: sphinx-build -W docs docs/_build
BLAS = ['scipy-openblas64>=0.3.27']              # OpenBLAS for the dense products of batches in C++ (gle_brian.dense)

setup(
    name='gle-brian',
    version='0.1.0',
    description='Generalized Latent Equilibrium (GLE) neurons, networks and local learning in Brian2',
    long_description=open('README.rst').read(),
    long_description_content_type='text/x-rst',
    python_requires='>=3.12',
    packages=find_packages(include=['gle_brian', 'gle_brian.*']),
    install_requires=[
        'brian2>=2.10,<2.11',
        'numpy>=1.26',
        'scipy>=1.11',
        'matplotlib>=3.8',
        'cython>=3.0',
        'tqdm>=4.60',
        'mnist1d>=0.0.2',
    ],
    extras_require={
        'cuda': CUDA,
        'nwb': NWB,
        'sweep': SWEEP,
        'docs': DOCS,
        'blas': BLAS,
        # the tests compile CUDA code and OpenBLAS calls, write NWB, sweep, build the docs and run the linter
        'test': ['pytest>=8', 'pytest-xdist>=3.5', 'ruff>=0.5'] + CUDA + NWB + SWEEP + DOCS + BLAS,
    },
    entry_points={'console_scripts': ['gle-brian = gle_brian.cli:main']},
    license='MIT',
)
