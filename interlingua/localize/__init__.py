"""For localisers: machine drafts of localisation files (PO/POT, XLIFF, TMX, Qt, Android, Apple, JSON)
with placeholders kept exactly, a translation memory first and the model for the rest.

    from interlingua import Translator
    from interlingua.localize import translate_file, format_counts
    counts = translate_file("po/app.pot", Translator.load("runs/base"), ["fr", "de"], "drafts", memory="old.tmx")
    print(format_counts(counts))   # fr: 120 filled (marked for review, 30 of them from the memory), ...

See ``docs/localize.md``.
"""
from .files import format_counts, translate_file
from .plurals import gettext_locale, plural_forms
from .protect import protect, restore, same_placeholders

__all__ = ["translate_file", "format_counts", "protect", "restore", "same_placeholders", "plural_forms",
           "gettext_locale"]
