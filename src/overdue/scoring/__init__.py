"""Credit scoring for any table: a WoE scorecard and LightGBM, chosen by cross-validation.

Entry points: ``overdue.scoring.train.train_model`` (fit and save into a registry folder),
``overdue.scoring.registry.load_model`` (one saved version), ``ScoringModel.score`` (probability,
points and reason codes), ``overdue.scoring.evaluation`` (AUC, KS, Gini, gains, calibration, PSI).
"""
