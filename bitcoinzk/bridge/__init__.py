"""bitcoinzk.bridge"""
