# Browser tests (tests/django/test_multichat.py): the multichat page in headless Chromium,
# driven by selenium through Debian's chromedriver, with an emoji font so reactions in
# the screenshots (docs/multichat*.png) look as they do on people's machines.
apt_install chromium chromium-driver fonts-noto-color-emoji
