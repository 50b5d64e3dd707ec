# Browser tests (tests/django/test_multichat.py): the multichat page in headless Chromium,
# driven by selenium through Debian's chromedriver.
apt_install chromium chromium-driver
