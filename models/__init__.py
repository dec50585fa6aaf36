"""Ready GLE experiments (one module per experiment); the published curves they compare with are in REFERENCE."""
import os

#: Folder of the published curves (one CSV per experiment; its README says where each comes from).
REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'reference')
