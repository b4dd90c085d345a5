"""The model stage: adapters that turn RecordBatches into predictions.

    base.py        ModelAdapter (the interface), PredictionColumn, reading columns as inputs
    tensorflow.py  SavedModelAdapter, KerasAdapter (TensorFlow imported when one is built)
    sklearn.py     JoblibAdapter (scikit-learn API: sklearn, XGBoost, LightGBM)
    load.py        resolve_model, load_model, shared_model (one per process)
"""
