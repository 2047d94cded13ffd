"""Rules of the Fale Conosco portal (POR-1): settings and catalogue (settings.py,
catalog.py), representatives and their links (accounts.py), protocols (protocols.py) and
the company's `portal` connection (channel.py)."""
