"""aksar.data"""
