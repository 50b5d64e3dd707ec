"""What ``bench/email.py`` sends mail to: a Telephonist consumer (``consumer.py``) and
aiosmtpd's bare counting sink (``sink.py``)."""
