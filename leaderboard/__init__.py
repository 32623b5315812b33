"""Pure rating math (online Elo, Bradley-Terry, bootstrap and sandwich intervals, style control) and charts.

This package imports no database, Gradio or file I/O code: inputs are integer index arrays.
"""
