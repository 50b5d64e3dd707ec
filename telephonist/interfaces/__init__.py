"""Protocol interfaces. Each subpackage is one protocol; all of them, built-in or
third-party, implement ``telephonist.interfaces.base.Interface`` and are found through
the ``telephonist.interfaces`` entry-point group."""
