"""cli."""

from prism.usage.fast import hook as _usage_fast_path

# `prism usage ...` (issue 7) is answered from the usage rollups before the full CLI loads.
_usage_fast_path()
