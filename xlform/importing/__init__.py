"""`xlform import`: existing workbooks -> project definitions (importer), hand-made forms found by their
labels (handmade). Imports returns and the rooms below it; never collecting, printing or the desk."""
