"""aksar.models"""
