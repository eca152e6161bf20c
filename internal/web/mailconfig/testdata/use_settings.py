# Reads one mail app set-up document with Python's own parsers (plistlib
# for the Apple profile, xml.etree for autoconfig and Autodiscover), takes
# the server settings from it as an app would, then uses them: an IMAP
# sign-in and an SMTP submission with the password given here (no document
# holds it). Prints the settings it took, as JSON, then what it did.
#
#   use_settings.py KIND DOCFILE ADDRESS PASSWORD CAFILE SUBJECT RCPT
import json
import imaplib
import plistlib
import smtplib
import ssl
import sys
import xml.etree.ElementTree as ET
from email.message import EmailMessage

kind, docfile, address, password, cafile, subject, rcpt = sys.argv[1:]
data = open(docfile, 'rb').read()
s = {}

if kind == 'apple':
    p = plistlib.loads(data)
    assert p['PayloadType'] == 'Configuration', p['PayloadType']
    mails = [c for c in p['PayloadContent'] if c['PayloadType'] == 'com.apple.mail.managed']
    assert len(mails) == 1, p['PayloadContent']
    m = mails[0]
    assert m['EmailAccountType'] == 'EmailTypeIMAP'
    assert m['IncomingMailServerAuthentication'] == 'EmailAuthPassword'
    assert m['OutgoingMailServerAuthentication'] == 'EmailAuthPassword'
    s['ids'] = [p['PayloadIdentifier'], p['PayloadUUID'], m['PayloadIdentifier'], m['PayloadUUID']]
    s['keys'] = sorted(set(p) | set(m))
    s['email'] = m['EmailAddress']
    s['imap'] = dict(host=m['IncomingMailServerHostName'], port=m['IncomingMailServerPortNumber'],
                     security='ssl' if m['IncomingMailServerUseSSL'] else 'none',
                     user=m['IncomingMailServerUsername'])
    # UseSSL says TLS, not which kind: the device picks (see below).
    s['smtp'] = dict(host=m['OutgoingMailServerHostName'], port=m['OutgoingMailServerPortNumber'],
                     security='tls' if m['OutgoingMailServerUseSSL'] else 'none',
                     user=m['OutgoingMailServerUsername'])
elif kind == 'autoconfig':
    root = ET.fromstring(data)
    assert root.tag == 'clientConfig' and root.get('version') == '1.1', root.tag
    prov = root.find('emailProvider')
    s['domains'] = [d.text for d in prov.findall('domain')]

    def server(el):
        user = el.findtext('username').replace('%EMAILADDRESS%', address)
        sec = {'SSL': 'ssl', 'STARTTLS': 'starttls'}[el.findtext('socketType')]
        assert el.findtext('authentication') == 'password-cleartext', el.findtext('authentication')
        return dict(host=el.findtext('hostname'), port=int(el.findtext('port')), security=sec, user=user)
    inc = prov.findall('incomingServer')
    assert inc[0].get('type') == 'imap'
    s['imap'] = server(inc[0])
    out = prov.findall('outgoingServer')
    assert all(o.get('type') == 'smtp' for o in out)
    s['smtp_all'] = [server(o) for o in out]
    s['smtp'] = s['smtp_all'][0]
elif kind == 'autodiscover':
    ns = {'a': 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006',
          'o': 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'}
    root = ET.fromstring(data)
    assert root.tag == '{%s}Autodiscover' % ns['a'], root.tag
    acct = root.find('o:Response/o:Account', ns)
    assert acct.findtext('o:AccountType', namespaces=ns) == 'email'
    assert acct.findtext('o:Action', namespaces=ns) == 'settings'
    for p in acct.findall('o:Protocol', ns):
        t = p.findtext('o:Type', namespaces=ns)
        assert p.findtext('o:SPA', namespaces=ns) == 'off'
        assert p.findtext('o:AuthRequired', namespaces=ns) == 'on'
        # Encryption overrides SSL: SSL is TLS from the first byte, TLS is
        # STARTTLS.
        sec = {'SSL': 'ssl', 'TLS': 'starttls'}[p.findtext('o:Encryption', namespaces=ns)]
        s[t.lower()] = dict(host=p.findtext('o:Server', namespaces=ns), port=int(p.findtext('o:Port', namespaces=ns)),
                            security=sec, user=p.findtext('o:LoginName', namespaces=ns))
else:
    sys.exit('unknown kind ' + kind)

ctx = ssl.create_default_context(cafile=cafile)

i = s['imap']
assert i['security'] == 'ssl', i
im = imaplib.IMAP4_SSL(i['host'], i['port'], ssl_context=ctx, timeout=60)
typ, _ = im.login(i['user'], password)
assert typ == 'OK'
typ, _ = im.select('INBOX')
assert typ == 'OK'
im.logout()
s['imap_login'] = 'OK'

o = s['smtp']
sec = o['security']
if sec == 'tls':
    # A client told only "TLS": TLS from the first byte, and where the
    # server greets in plain text instead (587), STARTTLS.
    try:
        smtp = smtplib.SMTP_SSL(o['host'], o['port'], context=ctx, timeout=60)
        sec = 'ssl'
    except ssl.SSLError:
        smtp = smtplib.SMTP(o['host'], o['port'], timeout=60)
        smtp.starttls(context=ctx)
        sec = 'starttls'
elif sec == 'ssl':
    smtp = smtplib.SMTP_SSL(o['host'], o['port'], context=ctx, timeout=60)
else:
    assert sec == 'starttls', o
    smtp = smtplib.SMTP(o['host'], o['port'], timeout=60)
    smtp.starttls(context=ctx)
s['smtp_used'] = sec
smtp.login(o['user'], password)
msg = EmailMessage()
msg['From'] = address
msg['To'] = rcpt
msg['Subject'] = subject
msg.set_content('Sent with the settings of the ' + kind + ' document.\n')
refused = smtp.send_message(msg)
assert not refused, refused
smtp.quit()
s['submitted'] = True
print(json.dumps(s))
