"""Questions during the live session: the written test (FR.IA.05 multiple choice, FR.IA.06 essay) and oral questions
(FR.IA.07), both drawn from the scheme's question bank (``remote_tuk.instruments``), and their evidence per KUK."""
