"""Local stand-ins for external services (the police.uk API), for tests."""
