"""The grader: what judges an exercise file.

- :mod:`~seminar.grader.checker` runs a file in this process (probes, ``main()``, measures,
  thresholds, findings); :mod:`~seminar.grader.isolation` runs the same in a child process;
- :mod:`~seminar.grader.grading` loads an exercise's grading module, ``grading/CHAPTER/NAME.py``,
  and gives its functions their :class:`~seminar.grader.grading.Context`;
- :mod:`~seminar.grader.toolkit`, :mod:`~seminar.grader.references` and
  :mod:`~seminar.grader.measures` are what the grading modules share;
- :mod:`~seminar.grader.findings` reads every loss curve; :mod:`~seminar.grader.feedback` draws a
  run's curve over the solution's; :mod:`~seminar.grader.markers` reads a file's TODOs.

The grader imports what the lessons import (``seminar.*``), never the course tools.
"""
