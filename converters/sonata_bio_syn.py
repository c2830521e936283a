"""BMTK 1.2 bionet's default synapse templates as nethub ``SynMech`` objects.

BMTK registers these ``model_template`` names in ``bionet/default_setters/synapse_models.py``;
each makes one NEURON point process per synapse and sets some of its parameters from the
edge type's ``dynamics_params`` JSON (others are constants in BMTK's code). The list below
says, for each name, the point process BMTK instantiates, which JSON key goes to which
parameter, and the constants:

- ``exp2syn``, ``Exp2Syn``: Exp2Syn; erev->e, tau1, tau2.
- ``expsyn``: ExpSyn; erev->e, tau1->tau.
- ``exp1syn``, ``exp1isyn``: the point process of the same name; erev->e, tau_1->tau.
- ``stp1syn``: erev->e; constants p0 0.5, tau_r 200, tau_1 5.
- ``stp2syn``: erev->e, p0, tau_r0, tau_FDR, tau_1.
- ``stp3syn``: erev->e; constants p0 0.6, tau_r0 200, tau_FDR 2000, tau_D 500, tau_1 5.
- ``stp4syn``: erev->e; constants p0 0.6, tau_r 200, tau_1 5.
- ``stp5syn``: erev->e, tau_1, tau_r0, tau_FDR, a_FDR, a_D, a_i, a_f, pbtilde.
- ``tmgsyn``: erev->e, tau_1, tau_rec, tau_facil, U, u0.

Parameters are set in the order BMTK sets them (``e`` first). ``stp5isyn`` is defined in that
file but not registered, so BMTK does not know it either. The point processes other than
``Exp2Syn``/``ExpSyn`` are not part of NEURON: they must come from the circuit's
``mechanisms_dir`` (the check names the missing one). BMTK 1.2 writes ``stp1syn``, ``stp3syn``,
``stp4syn``, ``tmgsyn``, ``exp1syn`` and ``exp1isyn`` as loops over lists of positions but
calls every template with one position and one section, so BMTK itself stops there with a
``TypeError``; nethub makes the one point process the loop body makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..celltypes import SynMech
from ..errors import ConversionError
from ..nmodl.info import point_process_name

__all__ = ["BmtkSynapse", "TEMPLATES", "NEURON_BUILTIN", "bmtk_synmech", "provided_processes",
           "bmtk_json", "json_name"]


@dataclass(frozen=True)
class BmtkSynapse:
    """One BMTK synapse template: its point process, JSON key -> parameter, constants."""

    model: str
    keys: tuple[tuple[str, str], ...]
    constants: dict[str, float] = field(default_factory=dict)
    bmtk_list_bug: bool = False


_E = ("erev", "e")
#: The templates BMTK 1.2's bionet registers by default (``synapse_models.py``).
TEMPLATES: dict[str, BmtkSynapse] = {
    "exp2syn": BmtkSynapse("Exp2Syn", (_E, ("tau1", "tau1"), ("tau2", "tau2"))),
    "Exp2Syn": BmtkSynapse("Exp2Syn", (_E, ("tau1", "tau1"), ("tau2", "tau2"))),
    "expsyn": BmtkSynapse("ExpSyn", (_E, ("tau1", "tau"))),
    "exp1syn": BmtkSynapse("exp1syn", (_E, ("tau_1", "tau")), bmtk_list_bug=True),
    "exp1isyn": BmtkSynapse("exp1isyn", (_E, ("tau_1", "tau")), bmtk_list_bug=True),
    "stp1syn": BmtkSynapse("stp1syn", (_E,), {"p0": 0.5, "tau_r": 200.0, "tau_1": 5.0},
                           bmtk_list_bug=True),
    "stp2syn": BmtkSynapse("stp2syn", (_E, ("p0", "p0"), ("tau_r0", "tau_r0"),
                                       ("tau_FDR", "tau_FDR"), ("tau_1", "tau_1"))),
    "stp3syn": BmtkSynapse("stp3syn", (_E,), {"p0": 0.6, "tau_r0": 200.0, "tau_FDR": 2000.0,
                                              "tau_D": 500.0, "tau_1": 5.0},
                           bmtk_list_bug=True),
    "stp4syn": BmtkSynapse("stp4syn", (_E,), {"p0": 0.6, "tau_r": 200.0, "tau_1": 5.0},
                           bmtk_list_bug=True),
    "stp5syn": BmtkSynapse("stp5syn", (_E, ("tau_1", "tau_1"), ("tau_r0", "tau_r0"),
                                       ("tau_FDR", "tau_FDR"), ("a_FDR", "a_FDR"),
                                       ("a_D", "a_D"), ("a_i", "a_i"), ("a_f", "a_f"),
                                       ("pbtilde", "pbtilde"))),
    "tmgsyn": BmtkSynapse("tmgsyn", (_E, ("tau_1", "tau_1"), ("tau_rec", "tau_rec"),
                                     ("tau_facil", "tau_facil"), ("U", "U"), ("u0", "u0")),
                          bmtk_list_bug=True),
}
#: Point processes NEURON has without any .mod file.
NEURON_BUILTIN = frozenset({"Exp2Syn", "ExpSyn"})


def provided_processes(mod_files: dict[str, str]) -> set[str]:
    """The POINT_PROCESS names the ``.mod`` texts declare (plus NEURON's own synapses)."""
    names = {point_process_name(text) for text in mod_files.values()}
    return (names - {None}) | set(NEURON_BUILTIN)


def bmtk_synmech(name: str, template: str, params: dict[str, Any], source: str,
                 provided: set[str] | None = None) -> tuple[SynMech, list[str]]:
    """The SynMech BMTK's ``template`` makes from the ``params`` of file ``source``.

    Parameters
    ----------
    name
        The SynMech name.
    template
        A key of :data:`TEMPLATES`.
    params
        The dynamics_params JSON document.
    source
        The JSON file's name (for messages).
    provided
        Point processes available (:func:`provided_processes`); None skips the check.

    Returns
    -------
    (SynMech, notes)
        ``notes`` are loss lines (BMTK's own failure on list-style templates).

    Raises
    ------
    ConversionError
        ``template`` unknown, a JSON key BMTK reads is missing or not a number, or the point
        process is neither NEURON's nor in the circuit's ``mechanisms_dir``.
    """
    spec = TEMPLATES.get(template)
    if spec is None:
        raise ConversionError(f"{source}: synapse model_template {template!r} is not one of "
                              f"BMTK's ({', '.join(TEMPLATES)})")
    if provided is not None and spec.model not in provided:
        raise ConversionError(f"{source}: synapse model_template {template!r} needs the NEURON "
                              f"point process {spec.model!r}, which no .mod file of the "
                              "circuit's mechanisms_dir declares")
    values: dict[str, float] = {}
    for key, par in spec.keys:
        if key not in params:
            raise ConversionError(f"{source}: key {key!r} missing (BMTK's {template} sets "
                                  f"{spec.model}.{par} from it)")
        try:
            values[par] = float(params[key])
        except (TypeError, ValueError):
            raise ConversionError(f"{source}: key {key!r} = {params[key]!r} is not a "
                                  "number") from None
    values.update(spec.constants)
    notes = []
    if spec.bmtk_list_bug:
        notes.append(f"{source}: BMTK 1.2 cannot build model_template {template!r} (its "
                     "loader loops over a single position: TypeError); nethub makes one "
                     f"{spec.model} per synapse as the loop body does")
    prov = {"format": "sonata", "dynamics_params": source or None, "model_template": template}
    return SynMech(name, spec.model, values, provenance=prov), notes


def bmtk_json(mech: SynMech, template: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The inverse for the export: ``(model_template, dynamics_params)`` of a SynMech imported
    from one of BMTK's templates (provenance ``model_template``); BMTK's constants are left
    out. Other SynMechs: ``(template, params)`` unchanged."""
    templ = str((mech.provenance or {}).get("model_template") or "")
    spec = TEMPLATES.get(templ)
    if spec is None or spec.model != mech.model:
        return template, params
    names = dict((par, key) for key, par in spec.keys)
    return templ, {names.get(k, k): v for k, v in params.items() if k not in spec.constants}


def json_name(mech: SynMech, default: str, taken: set[str]) -> str:
    """The export's dynamics_params file name of ``mech``: the file it was imported from when
    the import names it ``<stem>.<template>`` again and no other mechanism's file is called so
    (the round trip keeps the provenance), else ``default``."""
    prov = mech.provenance or {}
    src, templ = prov.get("dynamics_params"), prov.get("model_template")
    if (not isinstance(src, str) or templ not in TEMPLATES or TEMPLATES[templ].model != mech.model
            or TEMPLATES[templ].model == "Exp2Syn"):
        return default
    src = src.rsplit("/", 1)[-1]
    if f"{src[:-5] if src.endswith('.json') else src}.{templ}" != mech.name or src in taken:
        return default
    return src
