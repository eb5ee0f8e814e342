"""Looking at runs: evaluation reports, pictures, report.html, the runs table, comparisons.

Reading a run directory needs neither TensorFlow nor matplotlib (runinfo.py, compare.py);
pictures import matplotlib inside their functions, through extras.require.
"""
