"""lshw trees for the hardware tests: the example of repositories.md section 5 and generators."""

from __future__ import annotations

import copy

# The spec's example input, as written there.
EXAMPLE = {
    "id": "pc01",
    "class": "system",
    "claimed": True,
    "description": "Desktop Computer",
    "product": "OptiPlex 7040",
    "vendor": "Dell Inc.",
    "serial": "ABC123",
    "width": 64,
    "configuration": {"chassis": "desktop", "uuid": "..."},
    "capabilities": {"smbios-3.0": "SMBIOS version 3.0", "vsyscall32": "32-bit processes"},
    "children": [
        {
            "id": "core",
            "class": "bus",
            "claimed": True,
            "description": "Motherboard",
            "physid": "0",
            "children": [
                {
                    "id": "memory",
                    "class": "memory",
                    "claimed": True,
                    "size": 17179869184,
                    "units": "bytes",
                    "children": [
                        {"id": "bank:0", "class": "memory", "size": 8589934592, "slot": "DIMM1"}
                    ],
                },
                {
                    "id": "cpu",
                    "class": "processor",
                    "claimed": True,
                    "product": "Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz",
                    "vendor": "Intel Corp.",
                    "businfo": "cpu@0",
                    "width": 64,
                    "capacity": 4000000000,
                    "clock": 100000000,
                    "capabilities": {"x86-64": "64bits extensions (x86-64)", "fpu": True},
                },
                {
                    "id": "network",
                    "class": "network",
                    "claimed": True,
                    "description": "Ethernet interface",
                    "logicalname": "eno1",
                    "serial": "00:11:22:33:44:55",
                    "businfo": "pci@0000:00:1f.6",
                    "configuration": {"driver": "e1000e", "ip": "10.0.0.5"},
                },
                {
                    "id": "disk",
                    "class": "disk",
                    "claimed": True,
                    "size": 500107862016,
                    "logicalname": ["/dev/sda"],
                    "dev": "8:0",
                    "businfo": "scsi@0:0.0.0",
                },
            ],
        }
    ],
}


def example() -> dict:
    """A fresh copy of the example (tests may change it)."""
    return copy.deepcopy(EXAMPLE)


def generated(count: int, fanout: int = 4) -> dict:
    """A tree of ``count`` nodes, each with a capability, a configuration entry and a logical
    name; depth grows with the logarithm of ``count`` (base ``fanout``)."""
    nodes = [
        {
            "id": f"node:{n}",
            "class": "generic",
            "capabilities": {"cap": "a capability"},
            "configuration": {"driver": "x"},
            "logicalname": f"/dev/n{n}",
        }
        for n in range(count)
    ]
    nodes[0]["class"] = "system"
    for n in range(1, count):
        nodes[(n - 1) // fanout].setdefault("children", []).append(nodes[n])
    return nodes[0]


def chain(depth: int) -> dict:
    """A tree that is a single path of ``depth`` nodes."""
    root = node = {"id": "n1", "class": "bus"}
    for level in range(2, depth + 1):
        child = {"id": f"n{level}", "class": "bus"}
        node["children"] = [child]
        node = child
    return root
