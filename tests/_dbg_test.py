import re
from tests.test_saas import su_client, flashes
def test_dbg(app, su_client):
    r = su_client.submit("/admin/plans/new/", {"name": "Plano Vazio", "max_users": "", "max_channels": "3", "modules": ["inbox"], "active": "y"})
    i = r.text.find('is-invalid'); print(r.text[i-300:i+600])
