"""Issue 19 #4: the SMTP transport alone (STARTTLS, implicit TLS, authentication, certificate checks, which refusals
are permanent) and production's refusal of plain SMTP to a remote server. No database: see test_invitations.py."""

from __future__ import annotations

import ssl

import pytest

from config import MailSettings
from tests.functional.smtp_server import SmtpServer

FROM = "tuk@lsp-uji.example"
CANDIDATE_MAIL = "asesi.a@contoh.example"


@pytest.fixture(scope="module")
def local_ca(tmp_path_factory):
    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    pem = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    return server_ctx, str(pem)


def _message():
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = FROM, CANDIDATE_MAIL, "uji"
    m.set_content("isi")
    return m


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_authentication_to_the_smtp_server(local_ca, security):
    from remote_tuk.invitations.smtp import DeliveryError, SmtpTransport

    server_ctx, ca_pem = local_ca
    server = SmtpServer(tls=server_ctx, implicit_tls=security == "ssl", credentials=("tuk", "rahasia-smtp")).start()
    try:
        ok = MailSettings(host="127.0.0.1", port=server.port, security=security, username="tuk",
                          password="rahasia-smtp", from_address=FROM, ca_file=ca_pem, timeout_s=5)
        SmtpTransport(ok).send(_message())
        (got,) = server.received
        assert got.tls and got.user == "tuk" and got.rcpt_to == [CANDIDATE_MAIL]

        # a server whose certificate the system's CAs do not vouch for: refused, and retried (not permanent)
        with pytest.raises(DeliveryError) as untrusted:
            SmtpTransport(ok.model_copy(update={"ca_file": ""})).send(_message())
        assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.value) and not untrusted.value.permanent
        # a wrong password is the installation's settings: retried once they are fixed, not given up
        with pytest.raises(DeliveryError) as bad_login:
            SmtpTransport(ok.model_copy(update={"password": "salah"})).send(_message())
        assert "535" in str(bad_login.value) and not bad_login.value.permanent
        assert "salah" not in str(bad_login.value) and "rahasia" not in str(bad_login.value)
        assert len(server.received) == 1
    finally:
        server.stop()


def test_starttls_is_required_when_configured(local_ca):
    """A server that does not offer STARTTLS is not sent to in clear when the settings ask for TLS."""
    from remote_tuk.invitations.smtp import DeliveryError, SmtpTransport

    plain = SmtpServer().start()
    try:
        settings = MailSettings(host="127.0.0.1", port=plain.port, security="starttls", from_address=FROM,
                                ca_file=local_ca[1], timeout_s=5)
        with pytest.raises(DeliveryError) as err:
            SmtpTransport(settings).send(_message())
        assert "STARTTLS" in str(err.value) and plain.received == []
    finally:
        plain.stop()


def test_production_refuses_plain_smtp_to_a_remote_server():
    from config import load_settings

    base = dict(env="production", secret_key="x" * 40, database_url="postgresql+psycopg://db/rtuk")
    remote = load_settings(**base, mail=MailSettings(host="smtp.lsp.example", security="none", from_address=FROM))
    assert any("RTUK_MAIL_SECURITY" in p for p in remote.production_problems())
    local = load_settings(**base, mail=MailSettings(host="127.0.0.1", security="none", from_address=FROM))
    assert not any("RTUK_MAIL" in p for p in local.production_problems())
    no_from = load_settings(**base, mail=MailSettings(host="smtp.lsp.example"))
    assert any("RTUK_MAIL_FROM_ADDRESS" in p for p in no_from.production_problems())
    off = load_settings(**base)
    assert not any("RTUK_MAIL" in p for p in off.production_problems())



def test_mail_settings_from_the_environment(monkeypatch):
    from pydantic import ValidationError

    from config import load_settings

    monkeypatch.setenv("RTUK_MAIL_HOST", "smtp.lsp.example")
    monkeypatch.setenv("RTUK_MAIL_SECURITY", "ssl")
    monkeypatch.setenv("RTUK_MAIL_REMINDER_HOURS", "1,24,48")
    mail = load_settings().mail
    assert (mail.host, mail.security, mail.reminder_hours) == ("smtp.lsp.example", "ssl", [48, 24, 1])
    assert mail.enabled
    for name, bad in (("RTUK_MAIL_REMINDER_HOURS", "0"), ("RTUK_MAIL_REMINDER_HOURS", "sehari"),
                      ("RTUK_MAIL_SECURITY", "plain"), ("RTUK_MAIL_BASE_URL", "https://tuk.lsp.example/jalur")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValidationError):
            load_settings()
        monkeypatch.delenv(name)
