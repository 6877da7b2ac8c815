"""The FAISS experience memory shared by runs (experience-memory issue)."""
