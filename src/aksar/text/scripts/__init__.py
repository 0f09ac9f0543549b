"""Writing systems aksar knows: one module per script, each registering one ``Script`` (see ``base``).

Adding a script: write ``<name>.py`` (build a ``Script``, ``register`` it) and import it below.
"""
from aksar.text.scripts.base import (SCRIPTS, DomainWords, Preset, Script, ScriptField, ScriptInfo, detect_script,
                                     generation, get_script, register, unregister, script_share, scripts_in)
from aksar.text.scripts import khmer, thai, lao, myanmar  # noqa: F401,E402  (registration, in this order)

__all__ = ["Script", "ScriptInfo", "Preset", "DomainWords", "ScriptField", "SCRIPTS", "register", "unregister", "generation",
           "get_script", "scripts_in", "script_share", "detect_script"]
