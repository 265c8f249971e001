# Sends one message with Python's smtplib to the Homing server under test.
# usage: smtplib-send.py PORT MODE [USER PASSWORD]; MODE is plain, starttls or ssl.
# The message bytes are read from stdin and sent as they are (smtplib dot-stuffs them).
import smtplib
import ssl
import sys

port = int(sys.argv[1])
mode = sys.argv[2]
user = sys.argv[3] if len(sys.argv) > 3 else None
password = sys.argv[4] if len(sys.argv) > 4 else None
message = sys.stdin.buffer.read()
context = ssl._create_unverified_context()  # self-signed test certificate

if mode == 'ssl':
    client = smtplib.SMTP_SSL('127.0.0.1', port, context=context, timeout=10)
else:
    client = smtplib.SMTP('127.0.0.1', port, timeout=10)
client.ehlo('interop.test')
if mode == 'starttls':
    client.starttls(context=context)
    client.ehlo('interop.test')
if user is not None:
    client.login(user, password)
refused = client.sendmail('sender@interop.test', ['rcpt@example.org', 'other@example.org'], message)
client.quit()
print('refused=%d' % len(refused))
