"""bitcoinzk.crypto"""
