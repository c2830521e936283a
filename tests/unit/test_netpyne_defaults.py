"""NetPyNE's defaults are declared in the spec catalogue (hub/specs) and, because converters may
not import the specs, again in the converter's tables: they must agree key by key."""

from __future__ import annotations

from nethub.celltypes import json_equal
from nethub.converters import netpyne_tables
from nethub.specs.runmap import NETPYNE_SEEDS
from nethub.specs.schema import NETPARAMS_KEYS


def test_net_param_defaults_agree_with_the_spec_catalogue():
    defaults = netpyne_tables.NET_PARAM_DEFAULTS
    assert defaults
    for key, value in defaults.items():
        assert key in NETPARAMS_KEYS, f"netParams.{key} is not in the spec catalogue"
        declared = NETPARAMS_KEYS[key].default
        assert json_equal(value, declared), f"netParams.{key}: {value!r} vs {declared!r}"


def test_seed_defaults_agree_with_the_run_map():
    assert list(netpyne_tables.NETPYNE_SEEDS) == list(NETPYNE_SEEDS)
    for key, value in NETPYNE_SEEDS.items():
        assert json_equal(netpyne_tables.NETPYNE_SEEDS[key], value), key


def test_converters_keep_no_other_seed_copy():
    """The NetPyNE reader and writer take seed defaults from the table, not from literals."""
    import inspect

    from nethub.converters import netpyne, netpyne_write

    for module in (netpyne, netpyne_write):
        text = inspect.getsource(module)
        assert '"conn": 1' not in text and '.get("stim", 1)' not in text, module.__name__
