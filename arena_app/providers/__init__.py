"""Model backends: one small module per api_type behind one streaming interface."""
