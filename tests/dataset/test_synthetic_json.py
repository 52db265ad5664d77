"""The JSON writers write upstream's keys and nesting."""
import json

from torch_geometric_temporal.dataset import synthetic


def test_wikimath_layout(tmp_path):
    path = synthetic.write_wikimath(tmp_path, num_nodes=5, num_timesteps=4, seed=1)
    data = json.loads(path.read_text())
    assert path.name == "wikivital_mathematics.json"
    assert set(data) == {"edges", "weights", "node_ids", "time_periods", "0", "1", "2", "3"}
    assert data["time_periods"] == 4 and len(data["edges"]) == len(data["weights"]) == 20
    assert data["0"] == {"index": 0, "year": 2019, "month": 3, "day": 16, "y": data["0"]["y"]}
    assert data["3"]["day"] == 19 and len(data["3"]["y"]) == 5
    assert all(isinstance(v, int) for v in data["2"]["y"] + data["weights"])


def test_mtm_layout(tmp_path):
    path = synthetic.write_mtm(tmp_path / "mtm_1.json", num_timesteps=9, num_classes=4, seed=2)
    data = json.loads(path.read_text())
    assert set(data) == {"edges", "LABEL", *(str(j) for j in range(21))}
    # the real mtm_1.json's 19 edges (upstream's test_mtm asserts edge_index (2, 19))
    assert len(data["edges"]) == 19 and data["edges"][7] == [6, 5] and [0, 13] not in data["edges"]
    assert list(data["20"]) == [str(t) for t in range(9)]
    x, y, z = (float(v) for v in data["20"]["8"].strip("()").split(","))
    assert data["20"]["8"] == f"({x!r}, {y!r}, {z!r})"
    assert set(data["LABEL"].values()) <= set(range(4)) and data["LABEL"]["8"] == 3


def test_windmill_small_and_medium_layout(tmp_path):
    for write, name, nodes in [(synthetic.write_windmill_small, "windmill_output_small.json", 11),
                               (synthetic.write_windmill_medium, "windmill_output_medium.json",
                                26)]:
        path = write(tmp_path, num_timesteps=6, seed=3)
        data = json.loads(path.read_text())
        assert path.name == name and set(data) == {"edges", "weights", "block"}
        assert len(data["block"]) == 6 and len(data["block"][0]) == nodes
        assert len(data["edges"]) == len(data["weights"]) == nodes * nodes  # complete, as real
        assert data["edges"][0] == [0, 0] and data["edges"][-1] == [nodes - 1, nodes - 1]
    assert synthetic.write_windmill_small(tmp_path, 4, 3).read_bytes() == \
        synthetic.write_windmill_small(tmp_path / "again.json", 4, 3).read_bytes()  # seeded
