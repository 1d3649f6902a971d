"""Measure a trained run: ``run.run_evaluation`` is what ``interlingua evaluate`` calls.

One job per module: ``testset`` (read and order the test rows), ``translation`` (the direction
matrix, zero-shot and through English), ``placeholders``, ``retrieval`` (xsim, margin),
``vectors`` (every layer's sentence vectors, computed once), ``probes`` (language-ID probe),
``baselines`` (translation memory, character n-gram retrieval), ``metrics`` (sacrebleu).
Nothing is imported here, so the CLI starts without scikit-learn or rapidfuzz.
"""
