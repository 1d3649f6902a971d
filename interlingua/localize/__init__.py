"""For localisers: machine drafts of PO/POT catalogs and TMX memories with placeholders kept exactly.

    from interlingua import Translator
    from interlingua.localize import translate_file, format_counts
    counts = translate_file("po/app.pot", Translator.load("runs/base"), ["fr", "de"], "drafts")
    print(format_counts(counts))   # fr: 120 filled (fuzzy), 4 left empty (placeholders), 0 kept -> ...

See ``docs/localize.md``.
"""
from .files import format_counts, translate_file
from .plurals import gettext_locale, plural_forms
from .protect import protect, restore, same_placeholders

__all__ = ["translate_file", "format_counts", "protect", "restore", "same_placeholders", "plural_forms",
           "gettext_locale"]
