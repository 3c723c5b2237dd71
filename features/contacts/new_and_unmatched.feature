Feature: New contacts come from QBO; unmatched contacts stay in Canopy
  Any active customers in QBO that don't match a contact in Canopy will be created as a new
  contact in Canopy. Unmatched Contacts will NOT be synced.

  @R8
  Scenario: QBO customers that match no Canopy contact are created in Canopy as they are in QBO (interpretations D-4, D-5)
    Given the Admin of the "contacts_unmatched" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin opens every review section
    And the Admin clicks Sync contacts
    Then Sync contacts linked the matches and created the new contacts the ground truth counts for "All"
    And Canopy holds a new client for each customer of the New Contacts section for "All", and no other
    And each new client is active or archived as its QBO customer is active or inactive
    And each new client is a business exactly when its customer's company name is its display name

  @R9
  Scenario: Canopy contacts that match no QBO customer are listed as Unmatched and not created in QBO
    Given the Admin of the "contacts_unmatched" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin reads every page of every review section
    Then the review sections hold exactly the records the ground truth puts in them for "All"
    When the Admin clicks Sync contacts
    Then Sync contacts linked the matches and created the new contacts the ground truth counts for "All"
    And no Canopy contact the ground truth calls unmatched for "All" was linked
    And QBO holds no new customer
