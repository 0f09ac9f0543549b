"""aksar.text: scripts, normalization, grapheme clusters, charsets and corpora (pure Python, no torch)."""
from aksar.text.charset import Charset, audit_charset
from aksar.text.corpus import CorpusConfig, build_corpus, corpus_hash, corpus_script, read_split
from aksar.text.graphemes import clusters
from aksar.text.normalize import INVISIBLE_CHARS, fold_visual, normalize
from aksar.text.presets import PRESETS, preset_lines, preset_script
from aksar.text.scripts import SCRIPTS, ScriptInfo, detect_script, get_script, script_share

__all__ = [
    "Charset", "audit_charset", "CorpusConfig", "build_corpus", "corpus_hash", "corpus_script",
    "read_split", "clusters", "INVISIBLE_CHARS", "fold_visual", "normalize", "PRESETS", "preset_lines",
    "preset_script", "SCRIPTS", "ScriptInfo", "detect_script", "get_script", "script_share",
]
