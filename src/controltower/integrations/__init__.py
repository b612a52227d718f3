"""Thin clients of the services controltower talks to; transports are injectable."""
