"""reports: transparency figures (TCO Art. 7, DSA aggregates) for any range, as JSON, CSV and an
HTML page with charts; published reports are frozen with a digest.

``figures.compute_figures(session, principal, start=, end=)``, ``figures.publish_report``,
``render.to_csv(figures)``, ``render.to_html(figures)``.
"""
