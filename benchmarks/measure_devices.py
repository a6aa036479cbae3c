"""Read the NP meshes of akida's virtual AKD1000 and AKD1500 devices into tests/data/devices_measured.json.

Usage (in a venv with BrainChip's ``akida`` package, e.g. 2.19.3; not akida_nb's own environment)::

    python benchmarks/measure_devices.py [--output tests/data/devices_measured.json]

Per device: akida's description, IP and hardware versions, the NPs grouped by the NP types each
accepts (``device.mesh.nps[i].types``), the number of mesh nodes (row, column), and the per-NP SRAM
(``device.mesh.np_sram_size``). ``tests/test_nps.py`` checks the akd1000 target's ``device:`` block
against this file.
"""
from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "devices_measured.json"


def read_device(device) -> dict:
    """One virtual device's mesh, in the ``device:`` block's terms."""
    groups: collections.Counter = collections.Counter()
    for np_info in device.mesh.nps:
        groups[tuple(t.name for t in sorted(np_info.types, key=lambda t: t.value))] += 1
    sram = device.mesh.np_sram_size
    return {
        "desc": str(device.desc),
        "ip_version": str(device.ip_version),
        "hardware_version": str(device.version),
        "nps": len(device.mesh.nps),
        "nodes": len({(n.ident.row, n.ident.col) for n in device.mesh.nps}),
        "mesh": [{"types": list(types), "count": count}
                 for types, count in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))],
        "input_bytes": sram.input_bytes,
        "weight_bytes": sram.weight_bytes,
        "hrc": [t.name for t in device.mesh.hrc.types],
    }


def main(argv: list[str] | None = None) -> None:
    import akida

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    data = {"akida_version": akida.__version__,
            "devices": {name: read_device(getattr(akida, name)()) for name in ("AKD1000", "AKD1500")}}
    args.output.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
