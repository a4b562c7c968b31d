import sys
from pathlib import Path

# the snapshot-history helpers live with the portfolio tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "portfolio"))
