"""Submissions: uploaded school files, the pupil records they hold and their rule results."""
