"""interlingua: learn a language-agnostic thought from real parallel text; translate any language into any other.

    from interlingua import Translator
    translator = Translator.load("runs/quickstart")
    translator.translate(["Open the file"], to="de")
    translator.embed(["Ouvrir le fichier", "Datei öffnen"])   # language-agnostic vectors
"""
__version__ = "0.1.0"

__all__ = ["Translator", "__version__"]


def __getattr__(name: str):  # import torch only when the API is actually used
    if name == "Translator":
        from .api import Translator
        return Translator
    raise AttributeError(name)
