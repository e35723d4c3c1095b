"""Source-system simulator: a shopping mall's daily exports, written per the contract.

from simulator import SimulationConfig, generate
report = generate(SimulationConfig(members=500, days=30), Path("data/inbox"))
"""

from .config import SimulationConfig
from .generate import GenerationReport, generate

__all__ = ["GenerationReport", "SimulationConfig", "generate"]
