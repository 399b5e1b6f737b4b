"""Synthetic school files for any collection: schools and their register (`schools`), pupils'
identities (`pupils`), the mistakes real files carry (`mistakes`), writing CTF files and stray
documents (`files`) and running a generation LA by LA (`run`). Each collection's package has a
`synthetic` module that gives its pupils their results and writes its rows
(`engine/collections/<name>/synthetic.py`)."""
