"""bitcoinzk.bitvm"""
