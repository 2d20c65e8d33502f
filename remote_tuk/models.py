"""Every model, imported in one place so Alembic and ``create_all`` see the whole metadata."""

from remote_tuk.accounts.models import JoinLink, Role, SignIn, User
from remote_tuk.apl.models import AplForm, AplReview, AplSetting, AplSubmission, PortfolioItem
from remote_tuk.appeals.models import Appeal, AppealSetting
from remote_tuk.assessment.models import AssessmentSession, AuditorGrant, Schedule, SessionState, SessionTransition
from remote_tuk.audit.models import AuditEvent
from remote_tuk.consent.models import ConsentForm, ConsentTextVersion, ConsentWithdrawal
from remote_tuk.db import Base
from remote_tuk.dossier.models import Dossier, DossierDeclarations
from remote_tuk.instruments.models import AnswerKey, BankUse, BankVersion, Question, QuestionBank, QuestionRevision
from remote_tuk.invitations.models import OutboxMail
from remote_tuk.live.models import ChatMessage, Downtime, KukMark, RecordingChunk, SessionRecording, UnitDecision
from remote_tuk.lsp.models import Element, Kuk, Lsp, LspType, Scheme, Unit
from remote_tuk.privacy.models import Erasure, PrivacyPolicy, PrivacyRequest
from remote_tuk.proctoring.models import Finding
from remote_tuk.questioning.models import EssayScore, OralQuestion, WrittenAnswer, WrittenTest
from remote_tuk.review.models import AssessmentDocument, FeedbackAck, ProcessReview
from remote_tuk.sources.models import SourceChunk, SourceLink
from remote_tuk.trial.models import TrialRun
from remote_tuk.tuk.models import (
    Consent,
    IdentityCheck,
    RequirementProfileRecord,
    SchemeProfile,
    TukCheck,
    TukOverride,
)

__all__ = [
    "AnswerKey",
    "AplForm",
    "AplReview",
    "AplSetting",
    "AplSubmission",
    "Appeal",
    "AppealSetting",
    "AssessmentDocument",
    "AssessmentSession",
    "AuditEvent",
    "AuditorGrant",
    "BankUse",
    "BankVersion",
    "Base",
    "ChatMessage",
    "Consent",
    "ConsentForm",
    "ConsentTextVersion",
    "ConsentWithdrawal",
    "Dossier",
    "DossierDeclarations",
    "Downtime",
    "Element",
    "Erasure",
    "EssayScore",
    "FeedbackAck",
    "Finding",
    "IdentityCheck",
    "JoinLink",
    "Kuk",
    "KukMark",
    "Lsp",
    "LspType",
    "OralQuestion",
    "OutboxMail",
    "PortfolioItem",
    "PrivacyPolicy",
    "PrivacyRequest",
    "ProcessReview",
    "Question",
    "QuestionBank",
    "QuestionRevision",
    "RecordingChunk",
    "RequirementProfileRecord",
    "Role",
    "Schedule",
    "Scheme",
    "SchemeProfile",
    "SessionRecording",
    "SessionState",
    "SessionTransition",
    "SignIn",
    "SourceChunk",
    "SourceLink",
    "TrialRun",
    "TukCheck",
    "TukOverride",
    "Unit",
    "UnitDecision",
    "User",
    "WrittenAnswer",
    "WrittenTest",
]
