"""aksar.text"""
